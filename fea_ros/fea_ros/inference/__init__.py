"""Networks behind one interface: named numpy arrays in, named numpy arrays out."""
