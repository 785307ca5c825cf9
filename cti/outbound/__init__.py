"""Outbound calls and linkage: follow-up calls (回访), test dialing of department hotlines (拨测), 110 hand-overs."""
