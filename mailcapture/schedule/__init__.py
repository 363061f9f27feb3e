"""The reporting timetable: decides when requests, reminders and escalations are due."""
