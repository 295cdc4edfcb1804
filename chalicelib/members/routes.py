"""members routes (being built)."""
from chalicelib.core.http import Api

api = Api(__name__, tag="members")
