"""Notifications (docs/notifications.md): a follower of the log that decides, once per
event, which messages the routing rules owe, writes them to a durable delivery log in the
transaction that moves its position, and delivers them at least once (a stable message id)
through group robots, e-mail and signed webhooks."""
