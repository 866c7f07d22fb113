"""The boolean query language shared by the CLI, the Python API and the REST API (docs/query.md).

    from hubbub.query import select, validate
    posts = select(store, 'lang:en (vaccine* OR "herd immunity") NOT kind:repost', dataset="covid")
"""

from hubbub.query.parse import FIELDS, QueryError, QueryWarning, parse, warnings
from hubbub.query.select import frame, select, validate

__all__ = ["FIELDS", "QueryError", "QueryWarning", "frame", "parse", "select", "validate", "warnings"]
