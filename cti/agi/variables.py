"""Channel-variable names shared with the shipped dialplan (one place, like wazo-agid's constants)."""

# Set by the AGI layer at the end of every call the channel survives: the dialplan reads it.
CTI_RESULT = "CTI_RESULT"
RESULT_OK = "ok"
RESULT_FAILED = "failed"

# The queue the caller goes to; the dialplan sets ``public`` before AGI so a silent failure still queues.
CTIQUEUE = "CTIQUEUE"
