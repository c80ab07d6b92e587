"""Helpers the tests share: stand-ins for Twilio and OpenAI, phones that sign webhooks, the
parser's fixed book, the labelled corpora, process groups for the whole-system tests.

Test modules import from here, never from each other or from conftest.py.
"""
