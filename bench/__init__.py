"""Benchmark: this bot against the standard LangChain recipe, in the same run."""
