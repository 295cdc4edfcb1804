"""Group-buy (拼团): campaigns, groups with a timer each, places held at order time, settlement by events."""
