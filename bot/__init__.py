"""Cardinal: Slack chat-ops for Proxmox VE."""
