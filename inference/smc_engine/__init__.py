"""The SMC engine and its populations: SMC over Models and unfolds, smc_steer, conditional SMC."""
