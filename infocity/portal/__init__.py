"""The citizen's single window: cabinet, inbox, service catalogue and applications."""
