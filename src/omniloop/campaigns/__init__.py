"""Campaigns (营销活动): the campaign record created from an approved plan, and the launch guard."""
