"""Rendering shared by bench and train: text tables and PNG plots.

The bottom layer of reporting: it imports nothing else from dglsp, so bench and train can both use it without
importing each other.
"""
