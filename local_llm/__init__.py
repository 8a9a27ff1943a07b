"""local_llm."""
