"""Check-in: read a request, retrieve candidate cards, decide (select / ask / none), rewrite the prompt."""
