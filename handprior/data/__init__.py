"""Data: the packed sequence store, windows, the synthetic benchmark, dataset preparers and DataModules."""
