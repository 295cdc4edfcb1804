"""checkout: orders, from the priced submit that reserves stock to completion or cancellation."""
