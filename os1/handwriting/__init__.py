"""Handwriting: learn a client's hand from a photographed template sheet, write any text in it
(PNG, PDF, SVG, single-stroke SVG and G-code for pen plotters), and export it as a font.

Pure rendering: nothing here knows of the mind, memory or transports. The heavy libraries
(OpenCV, scikit-image, vpype) come with the ``hand`` extra: ``pip install 'os1[hand]'``.
"""
