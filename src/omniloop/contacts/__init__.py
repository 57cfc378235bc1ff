"""Contact control (接触控制): consent, suppression, contact policy, decisions and the outbox."""
