"""The web UI: Gradio panels over an Index (gradio is imported only when the app is built)."""
