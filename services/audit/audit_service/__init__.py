"""The audit service (SPEC X-1): the archive of every service's stored events, cases' histories,
states at a moment, the auditors' own reads, and the chains' checkpoints."""
