"""The admin feature's one Api; its routes are spread over the *_routes modules."""
from chalicelib.core.http import Api

api = Api("chalicelib.admin.routes", tag="admin")
