"""Proxmox VE API client, models and codec."""
