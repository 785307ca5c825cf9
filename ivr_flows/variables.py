"""Channel variables the IVR writes for the dialplan and for the agent leg (one place, as wazo-agid).

Names starting ``__`` are inherited by every channel the caller's channel creates (the agent's leg
in Queue(), a department's leg in a transfer), so the screen pop can read them there too.
"""

from cti.agi.variables import CTIQUEUE  # the queue the dialplan's Queue(${CTIQUEUE}) uses

QUEUE_PRIO = "QUEUE_PRIO"          # Asterisk's Queue() reads the caller's priority from it
CTI_TAGS = "__CTI_TAGS"            # comma-separated tags: 企业, 政务服务监管, 热线:12316 ...
CTI_HOTLINE = "__CTI_HOTLINE"      # the number the caller dialled (12345 or a directly merged hotline)
CTI_IVR_VERSION = "__CTI_IVR_VERSION"  # the flow set's content hash the call ran on
CTI_IVR_KEYS = "__CTI_IVR_KEYS"    # the keys the caller pressed, comma-separated
CTI_SURVEY = "CTI_SURVEY"          # "yes": the dialplan runs AGI(.../survey) after Queue()
CTI_DIAL = "CTI_DIAL"              # a hotline to dial at once instead of queueing (one-key transfer)
CTI_RATING = "CTI_RATING"          # the survey's rating: satisfied, basically_satisfied, dissatisfied

# Read, not written: the dialplan's [cti-inbound] sets it from the DID.
HOTLINE_IN = "CTI_HOTLINE"

__all__ = ["CTIQUEUE", "CTI_DIAL", "CTI_HOTLINE", "CTI_IVR_KEYS", "CTI_IVR_VERSION", "CTI_RATING",
           "CTI_SURVEY", "CTI_TAGS", "HOTLINE_IN", "QUEUE_PRIO"]
