from django.urls import path

from outbox import views

urlpatterns = [
    path("", views.side_effect_list, name="side_effect_list"),
    path("<int:pk>/retry/", views.side_effect_retry, name="side_effect_retry"),
]
