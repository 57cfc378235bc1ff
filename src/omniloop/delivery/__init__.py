"""Delivery (触达, F1, I2 channels part, D5): channel management, channel adapters, capacity and receipts.

See docs/design/delivery.md for the contract between its parts.
"""
