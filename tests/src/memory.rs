//! An in-memory `Manager` whose connects and checks can be scripted to succeed, fail, stall or hang.
