"""Custom actions served by a real rasa-sdk action server during the engine tests."""
