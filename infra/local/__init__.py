"""The local stack: embedded DynamoDB/SQS, tables, demo data, Chalice's server, the event pump."""
