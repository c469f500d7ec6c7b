"""Each user's choice, per event type, of the channels that reach them: in-app on or off,
e-mail instant, in a daily digest, or off."""
