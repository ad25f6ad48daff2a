"""
Data usage labels, marketing actions and policies, and the policy check an activation must pass (selectors.py).

No services.py, forms.py, views.py, api.py or urls.py: labels and policies are edited in the Django admin only.
No tasks.py: the policy check runs inside the activation's transaction.
"""
