"""Email delivery: the ledger, the per-recipient message builder, the send loop.

``send_edition`` is the entry point the pipeline calls; ``send_test`` sends one copy to
staff. Channels (Maildir, SMTP) live in ``digest.channels``.
"""

from digest.delivery.sender import send_edition, send_test

__all__ = ["send_edition", "send_test"]
