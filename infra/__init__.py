"""How the mall is stood up: tables from the models, CloudFormation, the local stack."""
