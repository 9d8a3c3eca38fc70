"""The analysis engine: sources, preprocessing, sliding windows, predictor, results, export. No Qt."""
