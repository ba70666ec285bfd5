from django.urls import path

from recordplus.web import static_files, views

app_name = "web"

urlpatterns = [
    path("", views.library, name="library"),
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("record", views.record, name="record"),
    path("v/<str:public_id>", views.watch, name="watch"),
    path("v/<str:public_id>/download/<str:what>", views.download, name="download"),
    path("v/<str:public_id>/rename", views.rename, name="rename"),
    path("v/<str:public_id>/delete", views.delete, name="delete"),
    path("v/<str:public_id>/share", views.share, name="share"),
    path("s/<str:token>", views.shared, name="shared"),
    path("s/<str:token>/download/<str:what>", views.shared_download, name="shared_download"),
    path("s/<str:token>/<str:what>", views.shared_media, name="shared_media"),
    path("static/web/<path:path>", static_files.asset, name="asset"),
]
