"""N-d forward ops on NumPy arrays (batched, validated inputs); see ``convscope.functional``."""
