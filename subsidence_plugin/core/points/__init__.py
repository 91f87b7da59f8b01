"""InSAR measurement points (seed 002 §III-B 5–7): quality labels and CNN screening, Getis–Ord Gi* hot spots with
Moran's I, validation against GNSS stations."""
