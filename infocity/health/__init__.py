"""Medical appointments: clinics, practitioners, schedules, slots, appointments, referrals."""
