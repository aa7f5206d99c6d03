httpd -f -p 8080
