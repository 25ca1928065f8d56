"""Evaluation reports people can review offline, from a pipeline run's artifacts.

facts.py gathers what a run produced (TFMA metrics, blessing, data counts, push, training
history, sample predictions) into one JSON-able dict; render_html.py and render_markdown.py turn
that dict into a self-contained HTML page and a short Markdown summary. `python -m report`
builds a report on demand; components/evaluation_report.py builds one in every pipeline run.
"""
