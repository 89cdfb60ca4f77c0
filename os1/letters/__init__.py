"""The letters studio: a writer's clients and their correspondences, letters drafted in the
client's voice and kept in versions, rendered in the client's hand, and gathered into a book."""
