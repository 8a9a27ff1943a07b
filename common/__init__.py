"""Small pieces every layer shares: paths, logging, settings. Imports nothing heavy."""
