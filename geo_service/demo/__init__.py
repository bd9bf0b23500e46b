"""The demo county: a synthetic county generated from a real outline, and its loader."""
