"""Online countersign (会签): workflow templates, approval instances and the state machine."""
