"""Developer tools: the installer (install.py, standard library only) and the child-process harness."""
