"""What each person owes for a period, and the figures printed beside each form line.

Shared by the timetable (which sends the forms) and the capture pipeline (which reads the
answers and confirms what is still outstanding).
"""
