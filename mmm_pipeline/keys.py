"""Asset keys that more than one stage names: asset modules depend on these, never on each other.

Table assets are keyed by their table's name in ``storage.tables``.
"""

RAW_MARKETING_DATA = "raw_marketing_data"
MODEL_FEATURES = "model_features"
MMM_MODEL = "mmm_model"
SERVING_TABLES = "serving_tables"
REPORT = "report"
