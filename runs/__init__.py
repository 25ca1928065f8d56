"""Reading a finished pipeline run back into plain data: what ML Metadata recorded
(metadata.py) and what TFMA wrote (evaluation.py). The runner's summary, the report and the
pusher's manifest all read a run through here."""
