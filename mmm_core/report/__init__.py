"""Plotly figures built from frames (never from the model) and the HTML dashboard."""
