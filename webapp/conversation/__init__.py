"""The conversation: one code path from an agent's words to a reply, shared by SMS and voice.

It knows nothing of Flask or Twilio: a channel hands it the agent and the text and renders the
`Turn` it gets back (TwiML for SMS, speech for voice, a JSON reply for the simulator).
"""
