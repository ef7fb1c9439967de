"""initbench: how weight initialization, activation and depth decide whether an MLP trains."""
