"""Federation: OS1 minds meet other minds (other OS1 instances, any A2A agent) over the
Agent2Agent protocol, without telling them what people told OS1.

    peers.py     the allow-list: peers, the tokens they present, what people share with them
    envelope.py  OS1's metadata on an A2A message (hops, exchange), parsed with pydantic
    guards.py    loop and cost guards: sizes, hops, duplicates, per-peer rate, exchange budgets
    privacy.py   what a prompt answering a peer may hold: only what a person allowed
    answer.py    a mind answers a peer, in the peer's own conversation
    consult.py   a person asks their mind to consult a peer: a three-way conversation
    talk.py      the mind talks with a peer, turn by turn, until a budget says stop
    card.py      the Agent Card of a mind
    executor.py  the A2A SDK's executor over ``answer``
    client.py    the A2A SDK's client, errors mapped to :mod:`os1.federation.errors`
"""
